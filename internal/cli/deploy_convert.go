package cli

import "github.com/switchyard/switchyard/convert"

// convertOptionsForDeploy are the converter options `deploy` and `diff`
// use for type helm apps without a chart (the converter's defaults).
func convertOptionsForDeploy() convert.Options { return convert.Options{} }
