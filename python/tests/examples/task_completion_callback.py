# The reference's "Task Completion Callback" example, after the imports it assumes.
from orchestrator import Orchestrator
from orchestrator.models import Task

def on_task_complete(task: Task):
    print(f"Task {task.id} completed!")
    if task.result:
        print(f"  Output: {task.result.output[:100]}...")
        print(f"  Files modified: {task.result.files_modified}")

orch = Orchestrator(on_task_complete=on_task_complete)
