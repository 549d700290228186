"""What every layer of the emulator shares: Batch's error type and its wire formats (times, durations, ETags)."""
