// Command noexports is a WASI reactor that exports none of the rule ABI.
package main

func main() {}
