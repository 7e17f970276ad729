from tests.api.harness import dapr_client as dapr_client
from tests.api.harness import issuer as issuer
from tests.api.harness import make_app as make_app
from tests.api.harness import runtime as runtime
from tests.api.harness import sidecar as sidecar
from tests.api.harness import tester_token as tester_token
