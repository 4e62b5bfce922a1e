"""Monitoring: alarms on function errors and throttles, table throttles, API errors, requests
refused because their tunnel was at its cap, and public requests answered 429 (counted by a
metric filter on the HTTP access log, in the routes stack: HTTP APIs have no 429 metric); and a
dashboard of the same metrics and more, with every alarm's state. Both come from one declaration
(tunnel_infra.monitored)."""

from troposphere import Ref

from tunnel_infra import monitored
from tunnel_infra.aws import cloudwatch, sns
from tunnel_infra.blueprint import Blueprint


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "alarms")
    key_arn = stack.data_key_parameter()
    watched = monitored.declare(stack)
    alarm_settings = stack.settings.alarms
    actions = []
    if alarm_settings.create_topic:
        alarm_topic = sns.alarm_topic(stack, "AlarmTopic", key_arn)
        actions = [Ref(alarm_topic)]
        stack.output("AlarmTopicArn", Ref(alarm_topic), "Subscribe to receive alarms")
    elif alarm_settings.topic_arn:
        actions = [alarm_settings.topic_arn]

    alarms = [cloudwatch.alarm(stack, alarm, actions) for alarm in watched.alarms]
    dashboard = cloudwatch.dashboard(stack, "Dashboard", "dashboard", list(watched.graphs), alarms)
    stack.output("DashboardUrl", cloudwatch.dashboard_url(dashboard), "The environment's dashboard")
    return stack.render()
