from tests.support.envfiles import load_mode

load_mode("unit")
