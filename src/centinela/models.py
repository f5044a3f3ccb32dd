"""Import every table module so ``Base.metadata`` is complete (Alembic, create_schema).

Each area keeps its tables in its own ``models`` module; add new modules here.
"""

from centinela import audit  # noqa: F401
from centinela.accounts import models as accounts_models  # noqa: F401
from centinela.alerts import case_models  # noqa: F401
from centinela.alerts import models as alerts_models  # noqa: F401
from centinela.certification import models as certification_models  # noqa: F401
from centinela.customs import models as customs_models  # noqa: F401
from centinela.detect import models as detect_models  # noqa: F401
from centinela.ews import models as ews_models  # noqa: F401
from centinela.ledger import models as ledger_models  # noqa: F401
from centinela.ledger import records as ledger_records  # noqa: F401
from centinela.online import models as online_models  # noqa: F401
from centinela.public import models as public_models  # noqa: F401
from centinela.quarterly import models as quarterly_models  # noqa: F401
from centinela.registry import models as registry_models  # noqa: F401
