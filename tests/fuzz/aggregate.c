/* aggregate — the data_processor's process_data: counts, sums, means, percentiles and groups of
 * data.records, from the job's payload as JSON text (fuzz_dp.h says what is checked). */
#include "worker/agents/data_processor/aggregate.h"
#include "tests/fuzz/fuzz_dp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dp_run(aggregate_run, data, size);
    return 0;
}
