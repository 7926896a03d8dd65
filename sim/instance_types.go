package sim

import (
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"
)

//go:embed instance_types.yaml
var instanceTypesYAML []byte

// defaultInstanceTypes is the built-in instance type and price table.
func defaultInstanceTypes() ([]InstanceTypeSpec, error) {
	var doc struct {
		InstanceTypes []InstanceTypeSpec `yaml:"instance_types"`
	}
	if err := yaml.Unmarshal(instanceTypesYAML, &doc); err != nil {
		return nil, fmt.Errorf("built-in instance types: %w", err)
	}
	return doc.InstanceTypes, nil
}

// mergeInstanceTypes returns base with the entries of over added or
// replaced by name.
func mergeInstanceTypes(base, over []InstanceTypeSpec) []InstanceTypeSpec {
	out := append([]InstanceTypeSpec(nil), base...)
	for _, o := range over {
		replaced := false
		for i := range out {
			if out[i].Name == o.Name {
				out[i] = o
				replaced = true
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}
