from services.common.migrations_env import run
from services.queue.storage import metadata

run(metadata)
