"""``!dns_record``: after the domain stack is launched, say which DNS record makes it answer.

A wildcard custom domain answers only once ``*.<domain>`` resolves to its regional target.
With ``custom_domain.hosted_zone_id`` the stack creates that alias record itself; without it
the record lives at the user's DNS provider, so every launch prints what to create.

``make deploy`` (``review/deploy.py``) executes change sets and runs no hook: it prints the same
line, from :func:`instruction`, after it executes the domain stack.
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from sceptre.hooks import Hook


def instruction(outputs: dict[str, str]) -> str | None:
    """The line to print for the domain stack's outputs (None when nothing is to be done)."""
    name, target = outputs.get("DomainName"), outputs.get("DomainTarget")
    if not name or not target:
        return None
    if outputs.get("DomainRecordManaged") == "true":
        return f"DNS: {name} is an alias to {target} in the configured hosted zone"
    return (
        f"DNS: create the record {name} CNAME {target} at your DNS provider (or, in Route 53, "
        f"an alias A record to it in zone {outputs.get('DomainHostedZoneId', '?')}); "
        "tunnels answer once it resolves"
    )


class DnsRecord(Hook):
    def run(self) -> None:
        try:
            described = self.stack.connection_manager.call(
                "cloudformation", "describe_stacks", {"StackName": self.stack.external_name}
            )
        except (BotoCoreError, ClientError) as error:
            self.logger.warning(f"{self.stack.name}: cannot read the domain's outputs: {error}")
            return
        outputs = {
            o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])
        }
        line = instruction(outputs)
        if line:
            self.logger.info(line)
            print(line, flush=True)
