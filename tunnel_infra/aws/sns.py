"""SNS: the topic that alarm notifications go to."""

from __future__ import annotations

from troposphere import AWSHelperFn
from troposphere.sns import Topic

from tunnel_infra.blueprint import Blueprint
from tunnel_infra.suppressions import skip_checkov


def alarm_topic(stack: Blueprint, logical_id: str, key_arn: AWSHelperFn | None) -> Topic:
    topic = Topic(logical_id, TopicName=stack.name("alarms"))
    if key_arn is not None:
        topic.KmsMasterKeyId = key_arn
    else:
        skip_checkov(
            topic,
            "CKV_AWS_26",
            "CloudWatch cannot publish to a topic under the AWS managed key; a CMK where enabled",
        )
    return stack.add(topic)
