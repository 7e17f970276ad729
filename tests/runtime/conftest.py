from tests.pubsub.harness import cluster as cluster
