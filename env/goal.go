package env

// GoalEnv is implemented by the goal-conditioned environments, the point
// mazes. Step returns no info map, so success and distance are read here
// after each step. The observation is the achieved state followed by the
// goal: an algorithm relabels a transition with another goal g by writing g
// into obs[GoalSlice] and next obs[GoalSlice] and taking the reward
// GoalReward(next obs[AchievedSlice], g).
//
// Success and Distance describe the environment's current episode; under a
// Vector, which resets a copy in the step that ends its episode, compute
// them from the step's final observation with GoalReward instead.
type GoalEnv interface {
	Env
	// GoalSpace is the space of goals.
	GoalSpace() Space
	// Goal returns a copy of the current episode's goal.
	Goal() []float64
	// SetGoal replaces the goal of the current episode and returns the
	// current observation with the new goal. Reset draws a new goal, so a
	// fixed goal is set after each Reset.
	SetGoal(g []float64) (obs []float64)
	// AchievedSlice is where the achieved goal lies in an observation:
	// obs[start:end].
	AchievedSlice() (start, end int)
	// GoalSlice is where the goal lies in an observation: obs[start:end].
	GoalSlice() (start, end int)
	// GoalReward is the reward of a step that ends having achieved achieved
	// while aiming at goal; Step's reward is GoalReward of its observation's
	// two slices. It reads and changes no state of the environment.
	GoalReward(achieved, goal []float64) float64
	// Success reports whether the current state achieves the goal.
	Success() bool
	// Distance is the distance from the current state to the goal.
	Distance() float64
}
