module github.com/ostiary/ostiarycookie

go 1.22
