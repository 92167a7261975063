/* Declaration-only stand-in (see README.md). */
#pragma once
