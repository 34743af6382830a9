//+------------------------------------------------------------------+
//| Master.mqh -- master mode: poll the order list, diff snapshots,  |
//| turn the differences into OrderIntents. The last view delivered  |
//| to the gateway is saved, so changes made while the EA was off    |
//| are still reported after a restart.                              |
//+------------------------------------------------------------------+
#property strict

#ifndef COPYGATEWAY_MASTER_MQH
#define COPYGATEWAY_MASTER_MQH

#include <CopyGateway/Platform.mqh>

class CMasterTracker
  {
private:
   SOrderRow         m_last[];        // view after the last scan (intents queued)
   bool              m_has_last;      // a view exists (loaded or scanned)
   int               m_magic_filter;  // -1 = every order

   //--- close price and closed volume of a ticket that left MODE_TRADES
   void              FillClose(SOrderIntent &p)
     {
      if(OrderSelect(p.ticket,SELECT_BY_TICKET) && OrderCloseTime()>0)
        {
         p.price=OrderClosePrice();
         if(p.new_ticket==0 && OrderLots()>0)
            p.volume=OrderLots();
        }
      if(p.price<=0)
        {
         bool buy=(p.side=="buy");
         p.price=CgMarketPrice(buy,false,MarketInfo(p.symbol,MODE_BID),MarketInfo(p.symbol,MODE_ASK));
        }
     }

public:
                     CMasterTracker(void) : m_has_last(false),m_magic_filter(-1) {}
   void              Init(const int magic_filter) { m_magic_filter=magic_filter; Reset(); }
   void              Reset(void) { ArrayResize(m_last,0); m_has_last=false; }
   //--- the view saved after the last delivery (restart catch-up)
   bool              Load(const string text)
     {
      m_has_last=CgLoadRows(text,m_last);
      return(m_has_last);
     }
   string            Serialize(void) const { return(CgSerializeRows(m_last)); }
   //--- Scan the terminal; intents for what changed since the last scan.
   int               Scan(const CSafetyPolicy &safety,SOrderIntent &out[])
     {
      SOrderRow now_rows[];
      CgReadRows(now_rows,m_magic_filter,safety);
      ArrayResize(out,0);
      int n=0;
      if(m_has_last)
         n=CgDiffSnapshots(m_last,now_rows,out);
      for(int i=0;i<n;i++)
         if(out[i].action=="close")
            FillClose(out[i]);
      ArrayResize(m_last,0);
      for(int i=0;i<ArraySize(now_rows);i++)
        {
         ArrayResize(m_last,i+1,64);
         m_last[i]=now_rows[i];
        }
      m_has_last=true;
      return(n);
     }
   //--- current view (for SyncSnapshot)
   void              Rows(SOrderRow &rows[]) const
     {
      ArrayResize(rows,ArraySize(m_last));
      for(int i=0;i<ArraySize(m_last);i++)
         rows[i]=m_last[i];
     }
  };

#endif
