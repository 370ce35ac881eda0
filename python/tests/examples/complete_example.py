import asyncio
from orchestrator import Orchestrator
from orchestrator.models import TaskResult

async def main():
    # Create orchestrator
    orch = Orchestrator(
        working_directory="./my-project",
        max_workers=3,
        verbose=True,
    )

    # Initialize with goal
    await orch.initialize("Build user authentication system")

    # Add tasks manually
    task1 = orch.add_task("Create User model", priority=1)
    task2 = orch.add_task(
        "Implement login endpoint",
        priority=2,
        dependencies=[task1.id],
        context_files=["src/models/user.ts"],
        hints="Use bcrypt for password hashing"
    )
    task3 = orch.add_task(
        "Write unit tests",
        priority=3,
        dependencies=[task1.id, task2.id]
    )

    # Run orchestration
    result = await orch.run_with_predefined_tasks()

    # Check results
    print(f"Goal: {result['goal']}")
    print(f"Tasks completed: {result['tasks_completed']}")
    print(f"Tasks failed: {result['tasks_failed']}")
    print(f"Discoveries: {result['discoveries']}")
    print(f"\nSummary:\n{result['summary']}")

    # Save state for later
    orch.save_state("orchestration-state.json")

if __name__ == "__main__":
    asyncio.run(main())
