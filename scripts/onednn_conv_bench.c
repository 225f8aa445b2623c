// oneDNN (Debian libdnnl-dev) convolution timing for the convolutions of ResNet-18 at 64 px, batch 32: forward,
// backward data and backward weights per layer, with the library's preferred (blocked) layouts plus the reorders from
// and to NCHW ("any"), or on plain NCHW ("plain"). Not built by make; docs/performance.md "Convolution backends".
//   apt-get install libdnnl-dev && gcc -O2 scripts/onednn_conv_bench.c -o /tmp/onednn_conv_bench -ldnnl
//   OMP_NUM_THREADS=1 /tmp/onednn_conv_bench any
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define CHK(f) do { dnnl_status_t s_ = (f); if (s_ != dnnl_success) { fprintf(stderr, "%s:%d %s -> %d\n", __FILE__, __LINE__, #f, s_); exit(1);} } while(0)
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
typedef struct { int c, o, h, k, s, p, bwd_data; } L;
static dnnl_engine_t eng; static dnnl_stream_t st;
static float *alloc(size_t n){float*p=aligned_alloc(64,((n*4+63)/64)*64);for(size_t i=0;i<n;i++)p[i]=(float)(rand()%100)/100.f-0.5f;return p;}
static dnnl_primitive_t mkreorder(const dnnl_memory_desc_t*a,const dnnl_memory_desc_t*b){dnnl_primitive_desc_t pd;CHK(dnnl_reorder_primitive_desc_create(&pd,a,eng,b,eng,NULL));dnnl_primitive_t p;CHK(dnnl_primitive_create(&p,pd));return p;}
static void run1(dnnl_primitive_t p, int n, dnnl_exec_arg_t*a){CHK(dnnl_primitive_execute(p,st,n,a));}
int main(int argc,char**argv){
  int any = argc>1 && !strcmp(argv[1],"any");
  int N=32, iters=10;
  L layers[]={{3,64,64,7,2,3,0},
   {64,64,16,3,1,1,1},{64,64,16,3,1,1,1},{64,64,16,3,1,1,1},{64,64,16,3,1,1,1},
   {64,128,16,3,2,1,1},{128,128,8,3,1,1,1},{64,128,16,1,2,0,1},{128,128,8,3,1,1,1},{128,128,8,3,1,1,1},
   {128,256,8,3,2,1,1},{256,256,4,3,1,1,1},{128,256,8,1,2,0,1},{256,256,4,3,1,1,1},{256,256,4,3,1,1,1},
   {256,512,4,3,2,1,1},{512,512,2,3,1,1,1},{256,512,4,1,2,0,1},{512,512,2,3,1,1,1},{512,512,2,3,1,1,1}};
  int nl=sizeof(layers)/sizeof(L);
  CHK(dnnl_engine_create(&eng,dnnl_cpu,0)); CHK(dnnl_stream_create(&st,eng,dnnl_stream_default_flags));
  double tf[32]={0},tbd[32]={0},tbw[32]={0};
  for(int li=0;li<nl;li++){ L l=layers[li]; int oh=(l.h+2*l.p-l.k)/l.s+1;
    dnnl_dims_t sd={N,l.c,l.h,l.h}, wd={l.o,l.c,l.k,l.k}, dd={N,l.o,oh,oh}, bd={l.o}, str={l.s,l.s}, pad={l.p,l.p};
    dnnl_memory_desc_t smd,wmd,dmd,bmd, sa,wa,da;
    CHK(dnnl_memory_desc_init_by_tag(&smd,4,sd,dnnl_f32,dnnl_nchw)); CHK(dnnl_memory_desc_init_by_tag(&wmd,4,wd,dnnl_f32,dnnl_oihw));
    CHK(dnnl_memory_desc_init_by_tag(&dmd,4,dd,dnnl_f32,dnnl_nchw)); CHK(dnnl_memory_desc_init_by_tag(&bmd,1,bd,dnnl_f32,dnnl_x));
    dnnl_format_tag_t t = any? dnnl_format_tag_any : dnnl_nchw;
    CHK(dnnl_memory_desc_init_by_tag(&sa,4,sd,dnnl_f32,any?t:dnnl_nchw)); CHK(dnnl_memory_desc_init_by_tag(&wa,4,wd,dnnl_f32,any?t:dnnl_oihw)); CHK(dnnl_memory_desc_init_by_tag(&da,4,dd,dnnl_f32,any?t:dnnl_nchw));
    dnnl_convolution_desc_t fdsc,bddsc,bwdsc;
    CHK(dnnl_convolution_forward_desc_init(&fdsc,dnnl_forward_training,dnnl_convolution_direct,&sa,&wa,&bmd,&da,str,pad,pad));
    dnnl_primitive_desc_t fpd; CHK(dnnl_primitive_desc_create(&fpd,&fdsc,NULL,eng,NULL));
    CHK(dnnl_convolution_backward_data_desc_init(&bddsc,dnnl_convolution_direct,&sa,&wa,&da,str,pad,pad));
    dnnl_primitive_desc_t bdpd; CHK(dnnl_primitive_desc_create(&bdpd,&bddsc,NULL,eng,fpd));
    CHK(dnnl_convolution_backward_weights_desc_init(&bwdsc,dnnl_convolution_direct,&sa,&wa,&bmd,&da,str,pad,pad));
    dnnl_primitive_desc_t bwpd; CHK(dnnl_primitive_desc_create(&bwpd,&bwdsc,NULL,eng,fpd));
    const char*in1,*in2,*in3; dnnl_primitive_desc_query(fpd,dnnl_query_impl_info_str,0,&in1);dnnl_primitive_desc_query(bdpd,dnnl_query_impl_info_str,0,&in2);dnnl_primitive_desc_query(bwpd,dnnl_query_impl_info_str,0,&in3);
    const dnnl_memory_desc_t *fs=dnnl_primitive_desc_query_md(fpd,dnnl_query_src_md,0),*fw=dnnl_primitive_desc_query_md(fpd,dnnl_query_weights_md,0),*fd=dnnl_primitive_desc_query_md(fpd,dnnl_query_dst_md,0);
    const dnnl_memory_desc_t *bdw=dnnl_primitive_desc_query_md(bdpd,dnnl_query_weights_md,0),*bdd=dnnl_primitive_desc_query_md(bdpd,dnnl_query_diff_dst_md,0),*bds=dnnl_primitive_desc_query_md(bdpd,dnnl_query_diff_src_md,0);
    const dnnl_memory_desc_t *bws=dnnl_primitive_desc_query_md(bwpd,dnnl_query_src_md,0),*bwd=dnnl_primitive_desc_query_md(bwpd,dnnl_query_diff_dst_md,0),*bww=dnnl_primitive_desc_query_md(bwpd,dnnl_query_diff_weights_md,0);
    size_t ns=(size_t)N*l.c*l.h*l.h, nw=(size_t)l.o*l.c*l.k*l.k, nd=(size_t)N*l.o*oh*oh;
    float *X=alloc(ns),*W=alloc(nw),*B=alloc(l.o),*Y=alloc(nd),*DY=alloc(nd),*DX=alloc(ns),*DW=alloc(nw),*DB=alloc(l.o);
    dnnl_memory_t mX,mW,mB,mY,mDY,mDX,mDW,mDB;
    CHK(dnnl_memory_create(&mX,&smd,eng,X));CHK(dnnl_memory_create(&mW,&wmd,eng,W));CHK(dnnl_memory_create(&mB,&bmd,eng,B));CHK(dnnl_memory_create(&mY,&dmd,eng,Y));
    CHK(dnnl_memory_create(&mDY,&dmd,eng,DY));CHK(dnnl_memory_create(&mDX,&smd,eng,DX));CHK(dnnl_memory_create(&mDW,&wmd,eng,DW));CHK(dnnl_memory_create(&mDB,&bmd,eng,DB));
    // internal-format memories
    dnnl_memory_t iX,iW,iY,ibdW,ibdDY,ibdDX,ibwX,ibwDY,ibwDW;
    CHK(dnnl_memory_create(&iX,fs,eng,DNNL_MEMORY_ALLOCATE));CHK(dnnl_memory_create(&iW,fw,eng,DNNL_MEMORY_ALLOCATE));CHK(dnnl_memory_create(&iY,fd,eng,DNNL_MEMORY_ALLOCATE));
    CHK(dnnl_memory_create(&ibdW,bdw,eng,DNNL_MEMORY_ALLOCATE));CHK(dnnl_memory_create(&ibdDY,bdd,eng,DNNL_MEMORY_ALLOCATE));CHK(dnnl_memory_create(&ibdDX,bds,eng,DNNL_MEMORY_ALLOCATE));
    CHK(dnnl_memory_create(&ibwX,bws,eng,DNNL_MEMORY_ALLOCATE));CHK(dnnl_memory_create(&ibwDY,bwd,eng,DNNL_MEMORY_ALLOCATE));CHK(dnnl_memory_create(&ibwDW,bww,eng,DNNL_MEMORY_ALLOCATE));
    dnnl_primitive_t f,bdp,bwp; CHK(dnnl_primitive_create(&f,fpd));CHK(dnnl_primitive_create(&bdp,bdpd));CHK(dnnl_primitive_create(&bwp,bwpd));
    dnnl_primitive_t rX=mkreorder(&smd,fs),rW=mkreorder(&wmd,fw),rY=mkreorder(fd,&dmd),rbdW=mkreorder(&wmd,bdw),rbdDY=mkreorder(&dmd,bdd),rbdDX=mkreorder(bds,&smd),rbwX=mkreorder(&smd,bws),rbwDY=mkreorder(&dmd,bwd),rbwDW=mkreorder(bww,&wmd);
    for(int it=0;it<iters+2;it++){
      double t0=now();
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,mX},{DNNL_ARG_TO,iX}};run1(rX,2,a);}
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,mW},{DNNL_ARG_TO,iW}};run1(rW,2,a);}
      {dnnl_exec_arg_t a[4]={{DNNL_ARG_SRC,iX},{DNNL_ARG_WEIGHTS,iW},{DNNL_ARG_BIAS,mB},{DNNL_ARG_DST,iY}};run1(f,4,a);}
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,iY},{DNNL_ARG_TO,mY}};run1(rY,2,a);}
      CHK(dnnl_stream_wait(st)); double t1=now();
      if(l.bwd_data){
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,mW},{DNNL_ARG_TO,ibdW}};run1(rbdW,2,a);}
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,mDY},{DNNL_ARG_TO,ibdDY}};run1(rbdDY,2,a);}
      {dnnl_exec_arg_t a[3]={{DNNL_ARG_DIFF_DST,ibdDY},{DNNL_ARG_WEIGHTS,ibdW},{DNNL_ARG_DIFF_SRC,ibdDX}};run1(bdp,3,a);}
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,ibdDX},{DNNL_ARG_TO,mDX}};run1(rbdDX,2,a);}
      }
      CHK(dnnl_stream_wait(st)); double t2=now();
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,mX},{DNNL_ARG_TO,ibwX}};run1(rbwX,2,a);}
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,mDY},{DNNL_ARG_TO,ibwDY}};run1(rbwDY,2,a);}
      {dnnl_exec_arg_t a[4]={{DNNL_ARG_SRC,ibwX},{DNNL_ARG_DIFF_DST,ibwDY},{DNNL_ARG_DIFF_WEIGHTS,ibwDW},{DNNL_ARG_DIFF_BIAS,mDB}};run1(bwp,4,a);}
      {dnnl_exec_arg_t a[2]={{DNNL_ARG_FROM,ibwDW},{DNNL_ARG_TO,mDW}};run1(rbwDW,2,a);}
      CHK(dnnl_stream_wait(st)); double t3=now();
      if(it>=2){tf[li]+=t1-t0;tbd[li]+=t2-t1;tbw[li]+=t3-t2;}
    }
    printf("L%-2d c%-3d o%-3d h%-2d k%d s%d  fwd %.2f bd %.2f bw %.2f ms  [%s | %s | %s]\n",li,l.c,l.o,l.h,l.k,l.s,tf[li]/iters*1e3,tbd[li]/iters*1e3,tbw[li]/iters*1e3,in1,in2,in3);
  }
  double F=0,BD=0,BW=0; for(int i=0;i<nl;i++){F+=tf[i];BD+=tbd[i];BW+=tbw[i];}
  printf("TOTAL fwd %.1f bd %.1f bw %.1f sum %.1f ms/step\n",F/iters*1e3,BD/iters*1e3,BW/iters*1e3,(F+BD+BW)/iters*1e3);
}
