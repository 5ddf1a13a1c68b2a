package linearizability

import (
	"slices"

	"github.com/anishathalye/porcupine"
)

// Model names, as used in history files and by ModelByName.
const (
	// KVModelName names KVModel.
	KVModelName = "kv"
	// ActorModelName names ActorModel.
	ActorModelName = "actors"
	// GroupModelName names GroupModel.
	GroupModelName = "groups"
)

// ModelByName returns the model called name: KVModel for "kv", ActorModel
// for "actors", GroupModel for "groups". It reports false for any other
// name.
func ModelByName(name string) (porcupine.Model, bool) {
	switch name {
	case KVModelName:
		return KVModel, true
	case ActorModelName:
		return ActorModel, true
	case GroupModelName:
		return GroupModel, true
	}
	return porcupine.Model{}, false
}

// ModelNames returns the names ModelByName accepts, sorted. The caller owns
// the returned slice.
func ModelNames() []string {
	names := []string{KVModelName, ActorModelName, GroupModelName}
	slices.Sort(names)
	return names
}
