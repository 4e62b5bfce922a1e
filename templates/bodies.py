"""Bodies: the bucket where request and response bodies too large for one WebSocket message
wait, for seconds, while they cross the tunnel (functions/forwarding/handler.py)."""

from troposphere import Ref

from tunnel_infra.aws import s3
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import BODIES


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "large bodies in transit")

    bodies_bucket = s3.bodies_bucket(stack, "BodiesBucket", prefix=BODIES.prefix)
    s3.tls_only_policy(stack, "BodiesBucketPolicy", bodies_bucket)

    stack.output(BODIES.parameter, Ref(bodies_bucket), "Bucket of the bodies in transit")
    return stack.render()
