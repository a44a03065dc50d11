from services.common.migrations_env import run
from services.feedback.storage import metadata

run(metadata)
