package exporter

import (
	"sort"
	"strings"

	"github.com/batchwatch/batchwatch/batch"
)

// wantDefinitionTags notes the definition of a job with propagateTags whose
// tags are not known yet: the next resync describes it. Batch propagates a
// definition's tags to the ECS task only when the job (or its definition)
// says propagateTags, and the bill then carries them; the job's events carry
// only the tags given at submission.
func (s *State) wantDefinitionTags(j *batch.Job) {
	if !j.PropagateTags || j.DefinitionARN == "" || len(s.costTag) == 0 {
		return
	}
	if _, known := s.defTags[j.DefinitionARN]; known {
		return
	}
	s.wantTags[strings.Clone(j.DefinitionARN)] = true
}

// DefinitionsWantingTags lists the definition ARNs whose tags the cost
// labels still need.
func (s *State) DefinitionsWantingTags() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.wantTags))
	for arn := range s.wantTags {
		out = append(out, arn)
	}
	sort.Strings(out)
	return out
}

// SetDefinitionTags records described definitions' tags (an empty map for a
// definition without tags, so it is not described again).
func (s *State) SetDefinitionTags(tags map[string]map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for arn, t := range tags {
		s.defTags[arn] = t
		delete(s.wantTags, arn)
	}
}
