package media

import "syscall"

func statfs(path string) (Space, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return Space{}, err
	}
	// Block counts are in fragment-size units (as df uses them).
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return Space{Free: st.Bavail * bs, Total: st.Blocks * bs}, nil
}
