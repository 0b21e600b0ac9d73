# ctest reads this file before the tests' definitions (the top directory's
# TEST_INCLUDE_FILES).  With ODP_TIMEOUT_SCALE=N in the environment (1 to
# 100; the debug kernel's run sets it), every test's TIMEOUT is N times
# what its CMakeLists.txt says: set_tests_properties() is wrapped for the
# definitions that follow, each argument passed on as it was written.
if("$ENV{ODP_TIMEOUT_SCALE}" MATCHES "^[1-9][0-9]?$|^100$")
	function(set_tests_properties)
		set(call "_set_tests_properties(")
		set(scale_next FALSE)
		math(EXPR last "${ARGC} - 1")
		foreach(i RANGE ${last})
			set(arg "${ARGV${i}}")
			if(scale_next)
				math(EXPR arg "${arg} * $ENV{ODP_TIMEOUT_SCALE}")
				set(scale_next FALSE)
			elseif(arg STREQUAL "TIMEOUT")
				set(scale_next TRUE)
			endif()
			string(APPEND call " [==[${arg}]==]")
		endforeach()
		cmake_language(EVAL CODE "${call})")
	endfunction()
endif()
