/** The strip every page of a test key carries, as Stripe's dashboard does. */
export function TestModeBanner({ environment }: { environment: string }) {
  if (environment !== "test") return null;
  return (
    <div class="test-banner" role="status" data-testid="test-mode-banner">
      <strong>Test mode:</strong> you are seeing test data
    </div>
  );
}
