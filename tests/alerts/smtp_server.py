"""A minimal SMTP server on a real loopback socket for the e-mail alert test: it accepts one
message per connection (EHLO/HELO, MAIL, RCPT, DATA, QUIT) and keeps what it received."""

from __future__ import annotations

import socketserver
import threading
from dataclasses import dataclass, field


@dataclass
class Mail:
    """One message as the server received it."""

    sender: str = ""
    recipients: list[str] = field(default_factory=list)
    data: str = ""


class SmtpServer:
    """``with SmtpServer() as s: s.port``; ``s.mails`` holds what arrived."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(f"{line}\r\n".encode())

            def handle(self) -> None:
                self.reply("220 localhost test SMTP")
                mail = Mail()
                while raw := self.rfile.readline():
                    line = raw.decode().rstrip("\r\n")
                    verb = line.split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 localhost")
                    elif verb == "MAIL":
                        mail.sender = line.split(":", 1)[1].strip().strip("<>")
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        mail.recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with .")
                        lines = []
                        while (data := self.rfile.readline().decode()) not in (".\r\n", ""):
                            lines.append(data)
                        mail.data = "".join(lines)
                        outer.mails.append(mail)
                        mail = Mail()
                        self.reply("250 OK queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 OK")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])

    def __enter__(self) -> SmtpServer:
        # A short poll: shutdown() waits up to one poll (0.5 s by default) for the loop to see it.
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
