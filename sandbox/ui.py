"""`make ui`: the Dagster UI against the sandbox (replay server on 127.0.0.1).

Runs launched from the UI inherit the sandbox environment, so they read the replay server.
"""

import argparse
import os
import subprocess
import sys

from sandbox.world import ROOT, prepare_dagster_home, running_sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    print("sandbox: planting the simulated on-chain scenario and starting the replay server",
          flush=True)
    with running_sandbox() as (sandbox_env, _, server):
        env = {**os.environ, **sandbox_env}
        prepare_dagster_home(env)
        print(f"sandbox: replay server on {server.url}, chain on "
              f"{env['STABLEFLOW_ETHEREUM_RPC_URL']}; UI on http://127.0.0.1:{args.port}",
              flush=True)
        command = [sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions",
                   "-h", "127.0.0.1", "-p", str(args.port)]
        try:
            subprocess.run(command, cwd=ROOT, env=env)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
