/* transform — the data_processor's transform_data: the step pipeline (select, rename, filter, sort,
 * dedupe, flatten, limit) over data.records, from the job's payload as JSON text (fuzz_dp.h says
 * what is checked). */
#include "worker/agents/data_processor/transform.h"
#include "tests/fuzz/fuzz_dp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dp_run(transform_run, data, size);
    return 0;
}
