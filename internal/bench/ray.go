package bench

// RaySource is where Ray's published figures come from: the
// microbenchmark.json of Ray's release tests (Ray's nightly run on its
// release-test machines, which are not this machine).
const RaySource = "https://github.com/ray-project/ray/blob/08444c4cf99b7584c60525e67a370e9382e13a81/release/perf_metrics/microbenchmark.json"

// rayPublished are the means of RaySource, by case name.
var rayPublished = map[string]float64{
	"single_client_get_calls_Plasma_Store":         10620.405550394937,
	"single_client_put_calls_Plasma_Store":         5173.290112206238,
	"multi_client_put_calls_Plasma_Store":          16526.35985553258,
	"single_client_put_gigabytes":                  19.85639156989914,
	"single_client_tasks_and_get_batch":            5.800654754787365,
	"multi_client_put_gigabytes":                   38.137310138893675,
	"single_client_get_object_containing_10k_refs": 13.371722002108683,
	"single_client_wait_1k_refs":                   5.079952667320649,
	"single_client_tasks_sync":                     980.7121217208985,
	"single_client_tasks_async":                    8040.530786886751,
	"multi_client_tasks_async":                     21229.843138559452,
	"1_1_actor_calls_sync":                         2011.916260420167,
	"1_1_actor_calls_async":                        8663.654839458402,
	"1_1_actor_calls_concurrent":                   5775.020315522301,
	"1_n_actor_calls_async":                        8038.166251679982,
	"n_n_actor_calls_async":                        27375.624367126635,
	"n_n_actor_calls_with_arg_async":               2759.3212097473174,
	"1_1_async_actor_calls_sync":                   1459.7289131365046,
	"1_1_async_actor_calls_async":                  4259.771844696956,
	"1_1_async_actor_calls_with_args_async":        2836.298297310687,
	"1_n_async_actor_calls_async":                  7382.681881276498,
	"n_n_async_actor_calls_async":                  23674.50106467489,
	"placement_group_create/removal":               764.5677165695956,
}
