package sdktest

// CallsIn returns how many calls Check's engine ran where: in process
// (engine.RunSandboxed) or in a worker process (engine.RunWorker).
func CallsIn(where string) int { return harness.calls.count(where) }
