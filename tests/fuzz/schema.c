/* schema — the data_processor's validate_data: a JSON-Schema subset compiled from data.schema and
 * checked against data.records, from the job's payload as JSON text (fuzz_dp.h says what is
 * checked). */
#include "worker/agents/data_processor/schema.h"
#include "tests/fuzz/fuzz_dp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dp_run(schema_run, data, size);
    return 0;
}
