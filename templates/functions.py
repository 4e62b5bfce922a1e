"""Functions: each tunnel function with its own log group and its own least-privilege role, or,
for a function named in ``existing_functions``, only outputs that name the existing one."""

from troposphere import GetAtt, Ref
from troposphere.awslambda import Code

from tunnel_infra.access import policy_document
from tunnel_infra.aws import awslambda, iam, logs
from tunnel_infra.blueprint import Blueprint
from tunnel_infra.functions import FUNCTIONS, wired_targets


def sceptre_handler(sceptre_user_data: dict) -> str:
    stack = Blueprint.from_user_data(sceptre_user_data, "Lambda functions and their roles")
    key_arn = stack.data_key_parameter()
    artifacts_bucket = stack.parameter("ArtifactsBucketName", "Bucket of the function zips")
    for target in wired_targets():
        stack.parameter(target.parameter, f"Read by the functions as {target.environment_variable}")
    # Where the public reaches a tunnel, as the apis stack derives it from the settings (by
    # Host under a custom domain, else by path on the HTTP API's endpoint): one parameter,
    # whatever the domain, so turning a domain on or off changes its value, not this stack's.
    public_url_format = Ref(
        stack.parameter("PublicUrlFormat", "A tunnel's public URL, {subdomain} filled in")
    )

    for function in FUNCTIONS:
        existing = stack.settings.existing_functions.get(function.name)
        if existing is not None:
            # Someone else's function (existing_functions): no zip, role, log group or function
            # here. Its outputs name it, so the routes stack's integrations and invoke
            # permissions and the monitoring stack's alarms point at it unchanged; and they say
            # what its owner must give it. The parameter stays, as every environment's
            # functions.yaml passes it (!function_code_key gives a placeholder).
            stack.parameter(
                f"{function.title}CodeKey",
                f"Unused: {function.name} is an existing function, {existing.name}",
            )
            policy = policy_document(
                iam.function_grants(stack, function, None, key_arn), stack.environment
            )
            awslambda.existing_function_needs(stack, function, existing, policy, public_url_format)
            continue
        code_key = stack.parameter(
            f"{function.title}CodeKey", f"S3 key of the {function.name} zip (content-addressed)"
        )
        log_group = logs.log_group(
            stack, f"{function.title}LogGroup", f"/aws/lambda/{stack.name(function.name)}", key_arn
        )
        role = iam.function_role(stack, function, log_group, key_arn)
        deployed = awslambda.function(
            stack,
            function,
            role,
            log_group,
            Code(S3Bucket=Ref(artifacts_bucket), S3Key=Ref(code_key)),
            key_arn,
            public_url_format,
        )
        stack.output(f"{function.title}FunctionArn", GetAtt(deployed, "Arn"), function.description)
        stack.output(f"{function.title}FunctionName", Ref(deployed), f"{function.name} function")
        # tunnel logs reads the groups from here, not from a naming rule of its own.
        stack.output(
            f"{function.title}LogGroupName", Ref(log_group), f"{function.name} function's logs"
        )
    if stack.settings.existing_functions:
        # The code keys of existing functions are passed (every functions.yaml names all five)
        # and knowingly unused: cfn-lint reads its config from the template's Metadata.
        stack.template.set_metadata({"cfn-lint": {"config": {"ignore_checks": ["W2001"]}}})
    return stack.render()
