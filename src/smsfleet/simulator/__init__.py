"""The SMS gateway simulator: fake providers and test phones for demos and tests.

Programs trigger an OTP SMS through `POST /providers/{provider}/send`, poll
`GET /gateway/messages/{trigger_id}` for the code, and submit it through
`POST /providers/{provider}/submit`. Every trigger's fate is decided when it is sent, from the
route's and provider's settings, and kept as ground truth under `/admin/truth`.
"""

from smsfleet.simulator.app import create_simulator_app
from smsfleet.simulator.config import SimulatorConfig, SimulatorConfigError, load_config
from smsfleet.simulator.server import serve

__all__ = [
    "SimulatorConfig",
    "SimulatorConfigError",
    "create_simulator_app",
    "load_config",
    "serve",
]
