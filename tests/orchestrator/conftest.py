from tests.orchestrator.harness import orchestrator as orchestrator
