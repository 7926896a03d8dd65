package rightsize

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
)

// WriteJSON writes the rows as one JSON array.
func WriteJSON(w io.Writer, rows []Row) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if rows == nil {
		rows = []Row{}
	}
	if err := enc.Encode(rows); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// WriteTable writes the rows as an aligned table, memory in MiB, CPU in
// vCPUs, the saving in the prices' currency a month.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "JOB DEFINITION\tTIER\tPLATFORM\tATTEMPTS\tREQ VCPU\tREQ MIB\tMIB P50\tMIB P95\tMIB MAX\tVCPU P50\tVCPU P95\tVCPU MAX\tOOM %\tREC VCPU\tREC MIB\tBOUND\tSAVING/MONTH\tNOTE\t")
	for _, r := range rows {
		rec := [2]string{"-", "-"}
		if r.Recommended.MemoryMiB > 0 {
			rec = [2]string{num(r.Recommended.VCPUs, 2), strconv.FormatInt(r.Recommended.MemoryMiB, 10)}
		}
		tier := r.Tier
		if tier == "" {
			tier = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%.0f\t%.0f\t%.0f\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s (%s)\t%.2f\t%s\t\n",
			r.Definition, tier, r.Platform, r.Attempts, num(r.Requested.VCPUs, 2), r.Requested.MemoryMiB,
			r.MemoryMiB.P50, r.MemoryMiB.P95, r.MemoryMiB.Max, num(r.VCPUs.P50, 2), num(r.VCPUs.P95, 2), num(r.VCPUs.Max, 2),
			100*r.OOMRate, rec[0], rec[1], r.Bound, r.Family, r.MonthlySaving, r.Note)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func num(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) }
