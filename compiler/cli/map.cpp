// placeholder while being written; replaced by the real implementation
#include "cli.h"
namespace cnpc::cli { int run_map(const MapOptions&) { return kExitInternal; } }
