package shop

// LinkStored is linkStored, for the tests that hold it to LinkCatalog.
var LinkStored = linkStored

// SetPreviewPageSize makes catalog previews read n variants at a time
// until the test ends.
func SetPreviewPageSize(t interface{ Cleanup(func()) }, n int) {
	old := previewPageSize
	previewPageSize = n
	t.Cleanup(func() { previewPageSize = old })
}
