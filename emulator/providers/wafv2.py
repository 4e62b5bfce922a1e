"""AWS::WAFv2::WebACL and AWS::WAFv2::WebACLAssociation providers backed by moto's wafv2 backend.

moto 5.2.5 has WAFv2's API (CreateWebACL, AssociateWebACL, GetWebACLForResource...) but no
CloudFormation model for either type, so a stack's web ACL was never made. Here both are made
for real: ``get_web_acl_for_resource`` on the stage's ARN answers with the web ACL, its rules and
custom response bodies, which is what the local gateway enforces (``local_gateway/waf.py``).

A rate-based rule out of WAF's bounds fails the resource as CloudFormation's schema check does
(``aws_fidelity.rules.check_rate_based_rules``).

``Ref``: the web ACL's ``name|id|scope`` ("Ref returns the resource name, ID, and scope, in a pipe
(|) separated list"); GetAtt ``Arn``, ``Id``, ``Capacity``, ``LabelNamespace``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-wafv2-webacl.html).
The association's ``Ref`` is its primary identifier, ``ResourceArn|WebACLArn`` (assumed from
the resource schema's primaryIdentifier; not captured from AWS). Not modelled: AWS checks that
the associated resource exists (WAFNonexistentItemException); moto, and so the emulator,
associates any stage ARN, which lets a test associate a placeholder stage.
"""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel
from moto.wafv2.exceptions import WAFv2ClientError
from moto.wafv2.models import GLOBAL_REGION, FakeWebACL, WAFV2Backend, wafv2_backends

from aws_fidelity import rules

from .base import Properties, ProviderResource, tags_as_list


def _backend(account_id: str, region_name: str, scope: str) -> WAFV2Backend:
    # moto keeps CLOUDFRONT-scoped web ACLs in its "global" region, as its API handler does.
    return wafv2_backends[account_id][GLOBAL_REGION if scope == "CLOUDFRONT" else region_name]


def _refused(error: WAFv2ClientError) -> rules.Refused:
    return rules.Refused(error.error_type, error.message, error.code)


class WAFv2WebACL(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::WAFv2::WebACL"
    NAME_PROPERTY = "Name"
    ATTRIBUTES = {
        "Arn": "arn",
        "Id": "acl_id",
        "Capacity": "capacity",
        "LabelNamespace": "label_namespace",
    }
    # The schema's createOnlyProperties.
    REPLACE_ON = frozenset({"Name", "Scope"})

    arn: str
    acl_id: str

    @property
    def scope(self) -> str:
        return str(self.properties.get("Scope", "REGIONAL"))

    @property
    def physical_resource_id(self) -> str:
        return f"{self.name}|{self.acl_id}|{self.scope}"

    @property
    def capacity(self) -> int:
        return self._acl().capacity

    @property
    def label_namespace(self) -> str:
        return self._acl().label_namespace

    def _backend(self) -> WAFV2Backend:
        return _backend(self.account_id, self.region_name, self.scope)

    def _acl(self) -> FakeWebACL:
        return self._backend().wacls[self.arn]

    def create(self) -> None:
        p = self.properties
        rules.check_rate_based_rules(p.get("Rules") or [], cloudformation=True)
        try:
            acl = self._backend().create_web_acl(
                name=self.name,
                visibility_config=p["VisibilityConfig"],
                default_action=p["DefaultAction"],
                scope=self.scope,
                description=p.get("Description"),  # type: ignore[arg-type]
                tags=tags_as_list(p.get("Tags")),
                rules=list(p.get("Rules") or []),
                association_config=p.get("AssociationConfig"),
                captcha_config=p.get("CaptchaConfig"),
                challenge_config=p.get("ChallengeConfig"),
                custom_response_bodies=p.get("CustomResponseBodies"),
                token_domains=p.get("TokenDomains"),
            )
        except WAFv2ClientError as error:
            raise _refused(error) from None
        self.arn, self.acl_id = acl.arn, acl.id

    def apply_update(self, old: Properties) -> None:
        p = self.properties
        rules.check_rate_based_rules(p.get("Rules") or [], cloudformation=True)
        backend = self._backend()
        acl = self._acl()
        backend.update_web_acl(
            name=acl.name,
            _id=acl.id,
            default_action=p["DefaultAction"],
            rules=list(p.get("Rules") or []),
            description=p.get("Description", ""),
            visibility_config=p["VisibilityConfig"],
            lock_token=acl.lock_token,
            custom_response_bodies=p.get("CustomResponseBodies") or {},
            captcha_config=p.get("CaptchaConfig"),
            challenge_config=p.get("ChallengeConfig"),
            token_domains=p.get("TokenDomains"),
            association_config=p.get("AssociationConfig"),
        )
        if not p.get("Rules"):
            acl.rules = []  # moto's update keeps the old rules when given none
        old_keys = [tag["Key"] for tag in tags_as_list(old.get("Tags"))]
        backend.untag_resource(self.arn, old_keys)
        backend.tag_resource(self.arn, tags_as_list(p.get("Tags")))

    def destroy(self) -> None:
        backend = self._backend()
        if backend.wacls.pop(getattr(self, "arn", ""), None) is not None:
            backend.tagging_service.delete_all_tags_for_resource(self.arn)


class WAFv2WebACLAssociation(ProviderResource, CloudFormationModel):
    CFN_TYPE = "AWS::WAFv2::WebACLAssociation"
    # Both are createOnlyProperties.
    REPLACE_ON = frozenset({"ResourceArn", "WebACLArn"})

    @property
    def resource_arn(self) -> str:
        return str(self.properties["ResourceArn"])

    @property
    def web_acl_arn(self) -> str:
        return str(self.properties["WebACLArn"])

    @property
    def physical_resource_id(self) -> str:
        return f"{self.resource_arn}|{self.web_acl_arn}"

    def _backend(self) -> WAFV2Backend:
        # The web ACL's ARN names its home: arn:aws:wafv2:<region>:<account>:<scope>/webacl/...
        parts = self.web_acl_arn.split(":")
        scope = "CLOUDFRONT" if len(parts) > 5 and parts[5].startswith("global/") else "REGIONAL"
        region = parts[3] if len(parts) > 3 and parts[3] else self.region_name
        return _backend(self.account_id, region, scope)

    def create(self) -> None:
        try:
            self._backend().associate_web_acl(self.web_acl_arn, self.resource_arn)
        except WAFv2ClientError as error:
            raise _refused(error) from None

    def apply_update(self, old: Properties) -> None:
        pass  # every property replaces the association

    def destroy(self) -> None:
        self._backend().disassociate_web_acl(self.resource_arn)
