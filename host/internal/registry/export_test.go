package registry

// OnWait sets a function called with a version's module name each time a
// request starts waiting for a load of it already in flight.
func (r *Registry) OnWait(f func(module string)) { r.onWait = f }
