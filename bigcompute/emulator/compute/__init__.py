"""The compute layer: the node layout, task environments, executors, the dispatcher and the settler that
moves resources through Batch's transitional states. It reads and writes the state through the stores."""
