/* Every statement slot is filled, named uniquely, and uses exactly $1..$n. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "queries.h"

int main(void)
{
	for (int i = 0; i < Q_COUNT; i++) {
		const struct query *q = &queries[i];
		CHECK(q->name != NULL && q->sql != NULL && q->nparams >= 1);
		if (q->name == NULL || q->sql == NULL)
			continue;
		for (int j = 0; j < i; j++)
			CHECK(queries[j].name == NULL || strcmp(queries[j].name, q->name) != 0);
		char p[16];
		snprintf(p, sizeof p, "$%d", q->nparams);
		CHECK(strstr(q->sql, p) != NULL);
		snprintf(p, sizeof p, "$%d", q->nparams + 1);
		CHECK(strstr(q->sql, p) == NULL);
		/* every statement is scoped to the user in $1 */
		bool insert = strncmp(q->sql, "INSERT INTO ", 12) == 0;
		CHECK(insert ? strstr(q->sql, " (user_id, ") != NULL
			     : strstr(q->sql, "user_id = $1") != NULL);
	}
	return check_done();
}
