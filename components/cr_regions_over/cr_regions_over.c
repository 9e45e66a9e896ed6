/* cr_regions with more regions than the monitor records (300 against
 * MON_MAX_REGIONS, 256): tests/scenario/cr_regions_over.xml. */
#define CR_REGIONS 300
#include "../cr_regions/cr_regions.c"
