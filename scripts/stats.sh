# Medians for the bench scripts, which source this file. Both read numbers
# from standard input, separated by newlines or blanks, and print "-" when
# there are none.

# median: the middle number, or the mean of the two middle ones.
median() {
	tr -s ' \t' '\n\n' | grep . | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# median_low: the middle number, or the lower of the two middle ones, so that
# the median of schedule counts or whole microseconds is one of them.
median_low() {
	tr -s ' \t' '\n\n' | grep . | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'
}
