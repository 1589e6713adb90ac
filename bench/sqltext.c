/* sqltext: prints the SQL text of one of the service's statements (src/queries.c) by name,
 * so bench/history.sh explains exactly what the service prepares, never a copy.
 *
 *   sqltext NAME      (e.g. t2_u_first_desc; exit status 1 for an unknown name) */
#include <stdio.h>
#include <string.h>

#include "queries.h"

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sqltext NAME\n");
		return 2;
	}
	for (int i = 0; i < Q_COUNT; i++) {
		if (strcmp(queries[i].name, argv[1]) == 0) {
			puts(queries[i].sql);
			return 0;
		}
	}
	fprintf(stderr, "sqltext: no statement named %s\n", argv[1]);
	return 1;
}
