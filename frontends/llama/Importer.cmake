# The MLIR importer (the lead's part of frontends/llama): checkpoint -> qcc dialect.
add_library(qcc_importer STATIC ${CMAKE_CURRENT_SOURCE_DIR}/Importer.cpp)
add_dependencies(qcc_importer QccOpsIncGen)
target_link_libraries(qcc_importer PUBLIC QccParams qcc_llama_checkpoint MLIRQcc MLIR LLVM)
qcc_target_warnings(qcc_importer)
