"""todoops.remote.connection: a connection that could not be opened, named with what to do."""
import socket
import subprocess

from paramiko import AuthenticationException, BadHostKeyException, SSHException
from paramiko.ed25519key import Ed25519Key
from paramiko.ssh_exception import NoValidConnectionsError

from todoops.errors import ExitCode
from todoops.remote import connection
from todoops.remote.targets import Target


def test_failures_name_the_host_and_say_what_to_do(tmp_path):
    target = Target("box", "alice", 2222)
    known = tmp_path / "known_hosts"
    key = Ed25519Key.from_private_key_file(_keyfile(tmp_path))
    cases = {
        socket.gaierror(-2, "Name or service not known"): ("cannot resolve", ExitCode.UNREACHABLE),
        NoValidConnectionsError({("127.0.0.1", 2222): ConnectionRefusedError()}): ("refused", ExitCode.UNREACHABLE),
        TimeoutError(): ("did not answer", ExitCode.UNREACHABLE),
        BadHostKeyException("box", key, key): ("does not match", ExitCode.PREFLIGHT),
        AuthenticationException(): ("did not accept", ExitCode.PREFLIGHT),
        SSHException("Server '[box]:2222' not found in known_hosts"): ("strict", ExitCode.PREFLIGHT),
        SSHException("Error reading SSH protocol banner"): ("cannot connect", ExitCode.UNREACHABLE),
    }
    for error, (words, code) in cases.items():
        message, hint, exit_code = connection.failure(error, target, known)
        assert "alice@box:2222" in message and words in message and hint and exit_code == code, message


def _keyfile(folder):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "key")], check=True)
    return str(folder / "key")
