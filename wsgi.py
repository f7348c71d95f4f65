from kmp import create_app
from kmp.scheduler import maybe_start_dev_scheduler

app = create_app()
maybe_start_dev_scheduler(app)  # only `make run` (KMP_DEV_SCHEDULER=1 on the `flask run` line)
