package shop

// LinkStored is linkStored, for the tests that hold it to LinkCatalog.
var LinkStored = linkStored
