"""A client generated from openapi.yaml works against the stack (make test runs this).

Generates a Python client with openapi-python-client (a mainstream OpenAPI 3.1 generator, from
the .venv) into DIR, then uses it as a newcomer would: health, the calling key, a key created
and revoked through the typed models.

usage: test_client.py DIR   (API and KEY in the environment)
"""

import os
import subprocess
import sys


def main(out_dir):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/tests/..
    bin_dir = os.path.dirname(sys.executable)
    env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
    os.makedirs(out_dir, exist_ok=True)
    generated = subprocess.run(
        [os.path.join(bin_dir, "openapi-python-client"), "generate", "--path", os.path.join(root, "openapi.yaml"),
         "--meta", "none", "--overwrite"],
        cwd=out_dir, capture_output=True, text=True, env=env,
    )
    problems = [l for l in generated.stdout.splitlines() + generated.stderr.splitlines()
                if l.startswith("Unable to")]
    if generated.returncode != 0 or problems:
        print(generated.stdout, generated.stderr)
        sys.exit("test_client: the generator could not take every schema: " + "; ".join(problems))

    sys.path.insert(0, out_dir)
    from keyhive_client import AuthenticatedClient, Client
    from keyhive_client.api.health import health
    from keyhive_client.api.keys import create_key, get_own_key, revoke_key
    from keyhive_client.models import NewKey, NewKeyType, Permissions

    api, key = os.environ["API"], os.environ["KEY"]
    up = health.sync(client=Client(base_url=api))
    assert up is not None and up.success and up.data.status == "ok", up
    client = AuthenticatedClient(base_url=api, token=key)  # Authorization: Bearer <key>
    me = get_own_key.sync(client=client)
    assert me is not None and me.success and key.split(".")[0].endswith(me.data.id), me
    created = create_key.sync(
        client=client,
        body=NewKey(name="generated client", type_=NewKeyType.BOT, permissions=Permissions.from_dict({})),
    )
    assert created is not None and created.success and created.data.key.startswith(key.split("_")[0] + "_"), created
    revoked = revoke_key.sync(client=client, id=created.data.id)
    assert revoked is not None and revoked.success, revoked
    print(f"test_client: openapi-python-client's client made health, keys/self, create and revoke calls")


if __name__ == "__main__":
    main(sys.argv[1])
