package batch

// ReferenceParse is the encoding/json reference reading, for the external
// tests of package batch_test.
var ReferenceParse = referenceParse
