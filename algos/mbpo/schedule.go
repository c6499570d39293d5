package mbpo

import "fmt"

// Schedule is MBPO's rollout length schedule [min_epoch, max_epoch,
// min_length, max_length] (jannerm/mbpo, mbpo.py _set_rollout_length): the
// model rollout length is MinLength up to epoch MinEpoch, grows linearly to
// MaxLength at epoch MaxEpoch, and stays there. Epochs count from 0 at the
// end of the initial random steps.
type Schedule struct {
	MinEpoch, MaxEpoch   int
	MinLength, MaxLength int
}

// ParseSchedule reads the four numbers of Config.RolloutSchedule.
func ParseSchedule(s []int) (Schedule, error) {
	if len(s) != 4 {
		return Schedule{}, fmt.Errorf("rollout_schedule = %v: want 4 numbers [min_epoch, max_epoch, min_length, max_length]", s)
	}
	sc := Schedule{MinEpoch: s[0], MaxEpoch: s[1], MinLength: s[2], MaxLength: s[3]}
	switch {
	case sc.MinEpoch < 0 || sc.MaxEpoch <= sc.MinEpoch:
		return sc, fmt.Errorf("rollout_schedule = %v: need 0 ≤ min_epoch < max_epoch", s)
	case sc.MinLength < 1 || sc.MaxLength < 1:
		return sc, fmt.Errorf("rollout_schedule = %v: rollout lengths must be at least 1", s)
	}
	return sc, nil
}

// Length returns the rollout length at epoch: the linear interpolation
// between MinLength and MaxLength, floored, as int(y) in the official code
// (for a decreasing schedule int truncates towards zero, which for positive
// lengths is the floor too).
func (s Schedule) Length(epoch int) int {
	if epoch <= s.MinEpoch {
		return s.MinLength
	}
	dx := min(float64(epoch-s.MinEpoch)/float64(s.MaxEpoch-s.MinEpoch), 1)
	return int(dx*float64(s.MaxLength-s.MinLength) + float64(s.MinLength))
}

// ModelBufferCapacity returns the capacity of the model replay buffer for
// rollouts of length rolloutLength: retainEpochs epochs' worth of model
// transitions, each epoch holding epochLength/trainFreq rollout batches of
// rolloutBatch starts and rolloutLength steps (jannerm/mbpo, mbpo.py
// _reallocate_model_pool: rollouts_per_epoch = rollout_batch_size ·
// epoch_length / model_train_freq, model_steps_per_epoch =
// int(rollout_length · rollouts_per_epoch), times model_retain_epochs).
func ModelBufferCapacity(rolloutBatch, rolloutLength, epochLength, trainFreq, retainEpochs int) int {
	rolloutsPerEpoch := float64(rolloutBatch) * float64(epochLength) / float64(trainFreq)
	return retainEpochs * int(float64(rolloutLength)*rolloutsPerEpoch)
}
