# The reference's "Discovery Callback" example, after the imports it assumes.
from orchestrator import Orchestrator
from orchestrator.models import Discovery

def on_discovery(discovery: Discovery):
    print(f"Discovery by {discovery.agent_id}:")
    print(f"  {discovery.content}")
    print(f"  Tags: {discovery.tags}")

orch = Orchestrator(on_discovery=on_discovery)
